<?php
/**
 * Stand-ins for the few PrestaShop classes trackside.php calls, shaped as PrestaShop 8/9
 * declares them (devdocs.prestashop-project.org), so ModuleTest can run the module's own code:
 * configuration page, hooks, push. Not PrestaShop: they store in memory and record calls.
 * Only what the module uses exists; a call to anything else fails the test.
 */

define('_PS_VERSION_', '8.1.0');

class Configuration
{
    public static $values = array();
    public static function get($key) { return isset(self::$values[$key]) ? self::$values[$key] : false; }
    public static function updateValue($key, $value) { self::$values[$key] = $value; return true; }
    public static function deleteByName($key) { unset(self::$values[$key]); return true; }
}

class Tools
{
    public static $post = array();
    public static function isSubmit($name) { return isset(self::$post[$name]); }
    public static function getValue($name, $default = false) { return isset(self::$post[$name]) ? self::$post[$name] : $default; }
    public static function getAdminTokenLite($tab) { return 'token'; }
    public static function getShopDomainSsl($http = false) { return ($http ? 'https://' : '') . 'shop.example'; }
}

class Validate
{
    public static function isLoadedObject($object) { return is_object($object) && !empty($object->id); }
}

class Smarty
{
    public $vars = array();
    public function assign($name, $value) { $this->vars[$name] = $value; }
}

class Link
{
    public function getPageLink($controller, $ssl = null, $idLang = null, $request = null)
    {
        return 'https://shop.example/index.php?controller=' . $controller . '&' . http_build_query((array) $request);
    }
}

class Cart { public $id; public function __construct($id) { $this->id = $id; } }

class Customer
{
    public $id; public $email = 'shopper@example.com'; public $firstname = 'Eva'; public $lastname = 'Muster';
    public $logged = false;
    public function __construct($id = null) { $this->id = $id; }
    public function isLogged() { return $this->logged; }
}

class Context
{
    public static $instance;
    public $cart; public $customer; public $smarty; public $link;
    public static function getContext() { return self::$instance; }
}

abstract class Module
{
    public $name; public $tab; public $version; public $author; public $need_instance;
    public $ps_versions_compliancy; public $bootstrap; public $displayName; public $description;
    public $context;
    public $hooks = array();
    public function __construct() { $this->context = Context::getContext(); }
    public function l($text) { return $text; }
    public function install() { return true; }
    public function uninstall() { return true; }
    public function registerHook($name) { $this->hooks[] = $name; return true; }
    public function display($file, $template)
    {
        // Smarty's {$trackside_snippet nofilter}: the template prints the variable as is.
        $tpl = file_get_contents(dirname($file) . '/' . $template);
        if (strpos($tpl, '{$trackside_snippet nofilter}') === false) {
            throw new LogicException("$template does not print the snippet");
        }
        return $this->context->smarty->vars['trackside_snippet'];
    }
    public function displayError($text) { return '<div class="error">' . $text . '</div>'; }
    public function displayConfirmation($text) { return '<div class="ok">' . $text . '</div>'; }
}

class AdminController { public static $currentIndex = 'index.php?controller=AdminModules'; }

class HelperForm
{
    public static $last;
    public $module; public $name_controller; public $token; public $currentIndex;
    public $default_form_language; public $submit_action; public $fields_value = array();
    public function generateForm($forms)
    {
        self::$last = array('forms' => $forms, 'values' => $this->fields_value);
        return '<form>' . htmlspecialchars(json_encode($this->fields_value)) . '</form>';
    }
}

class Currency { public $iso_code; public function __construct($id) { $this->iso_code = $id === 1 ? 'EUR' : 'USD'; } }

class Country { public static function getIsoById($id) { return $id === 1 ? 'DE' : ''; } }

class Address
{
    public $phone_mobile = '+49 30 1234567'; public $phone = ''; public $city = 'Berlin';
    public $postcode = '10115'; public $id_country = 1;
    public function __construct($id) {}
}

class OrderState { public $paid; public $logable; public function __construct($paid) { $this->paid = $paid; $this->logable = false; } }

class Order
{
    public static $byId = array();
    public $id; public $reference; public $id_currency = 1; public $id_cart; public $id_customer;
    public $id_address_invoice = 5; public $id_address_delivery = 5; public $total_paid_tax_incl;
    public $products = array();
    public function __construct($id = null)
    {
        if ($id !== null && isset(self::$byId[$id])) {
            foreach (get_object_vars(self::$byId[$id]) as $k => $v) { $this->$k = $v; }
        }
    }
    public static function getByReference($reference)
    {
        return array_values(array_filter(self::$byId, function ($o) use ($reference) { return $o->reference === $reference; }));
    }
    public function getProducts() { return $this->products; }
}
